//===- Internal.h - What the trainer's files share --------------*- C++ -*-===//
#ifndef NSL_RUNTIME_TRAIN_INTERNAL_H
#define NSL_RUNTIME_TRAIN_INTERNAL_H

#include "runtime/artifact/Model.h"
#include "runtime/data/Dataset.h"

#include <string>

namespace nsl::train {

/// The arguments of a classifier compiled with nslc --train that the
/// trainer passes: train_step's images, labels and learning rate, forward's
/// images; the input's C×H×W and the class count of forward's logits.
struct ClassifierArguments {
  std::string trainInput, labels, learningRate, forwardInput;
  data::ModelInput input;
  int64_t batch = 0;
};

/// Throws std::runtime_error naming what the model lacks; without
/// `training` only forward is needed (trainInput, labels and learningRate
/// stay empty).
ClassifierArguments classifierArguments(const runtime::Model &model,
                                        bool training);

} // namespace nsl::train

#endif // NSL_RUNTIME_TRAIN_INTERNAL_H
