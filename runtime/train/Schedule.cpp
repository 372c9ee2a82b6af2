//===- Schedule.cpp - Learning-rate schedules of the trainer --------------===//

#include "runtime/train/Schedule.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace nsl::train {

double Schedule::rate(int64_t step) const {
  double r = baseRate;
  switch (kind) {
  case Kind::Constant:
    break;
  case Kind::Step:
    for (int64_t milestone : milestones)
      if (step >= milestone)
        r *= gamma;
    break;
  case Kind::Cosine: {
    int64_t span = std::max<int64_t>(totalSteps - warmupSteps, 1);
    double t = std::clamp(static_cast<double>(step - warmupSteps) /
                              static_cast<double>(span),
                          0.0, 1.0);
    r = minimumRate +
        (baseRate - minimumRate) * 0.5 * (1.0 + std::cos(M_PI * t));
    break;
  }
  }
  if (step < warmupSteps)
    r *= static_cast<double>(step + 1) / static_cast<double>(warmupSteps);
  return r;
}

std::string Schedule::describe() const {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.9g", baseRate);
  std::string text;
  switch (kind) {
  case Kind::Constant:
    text = std::string("constant ") + buffer;
    break;
  case Kind::Step: {
    text = std::string("step ") + buffer;
    std::snprintf(buffer, sizeof(buffer), " x%.9g at", gamma);
    text += buffer;
    for (size_t i = 0; i < milestones.size(); ++i)
      text += (i ? "," : " ") + std::to_string(milestones[i]);
    if (milestones.empty())
      text += " no step";
    break;
  }
  case Kind::Cosine: {
    text = std::string("cosine ") + buffer;
    std::snprintf(buffer, sizeof(buffer), " to %.9g over ", minimumRate);
    text += buffer + std::to_string(totalSteps) + " steps";
    break;
  }
  }
  if (warmupSteps > 0)
    text += ", linear warm-up " + std::to_string(warmupSteps) + " steps";
  return text;
}

Schedule::Kind parseScheduleKind(const std::string &name) {
  if (name == "constant")
    return Schedule::Kind::Constant;
  if (name == "step")
    return Schedule::Kind::Step;
  if (name == "cosine")
    return Schedule::Kind::Cosine;
  throw std::invalid_argument("unknown schedule '" + name +
                              "': expected constant, step or cosine");
}

std::vector<int64_t> parseMilestones(const std::string &text,
                                     int64_t stepsPerEpoch) {
  std::vector<int64_t> milestones;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos)
      end = text.size();
    std::string item = text.substr(start, end - start);
    bool epochs = !item.empty() && item.back() == 'e';
    if (epochs)
      item.pop_back();
    size_t used = 0;
    long long value = -1;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception &) {
      used = 0;
    }
    if (item.empty() || used != item.size() || value < 0)
      throw std::invalid_argument(
          "invalid milestone '" + text.substr(start, end - start) +
          "': expected a step count like 1000 or an epoch count like 10e");
    int64_t step = epochs ? value * stepsPerEpoch : value;
    if (!milestones.empty() && step <= milestones.back())
      throw std::invalid_argument("milestones '" + text +
                                  "' are not in ascending order");
    milestones.push_back(step);
    start = end + 1;
  }
  return milestones;
}

} // namespace nsl::train
