"""Independent float64 formulations of the nsl ops, by plain loops.

Written straight from DESIGN.md §1 on NumPy arrays, sharing no code with
the package: each output element gathers its input patch tap by tap
(``t = ky·kw + kx``, zero outside the image) and evaluates the op's sum.
Shapes must stay small.
"""

import math

import numpy as np


def output_size(size, kernel, stride, padding, dilation):
    return [(size[i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1)
            // stride[i] + 1 for i in range(2)]


def patch(x, n, y, x_pos, kernel, stride, padding, dilation):
    """X_p[c, t] of sample n at output position (y, x_pos): [C, K]."""
    kh, kw = kernel
    height, width = x.shape[2:]
    out = np.zeros((x.shape[1], kh * kw))
    for ky in range(kh):
        for kx in range(kw):
            iy = y * stride[0] - padding[0] + ky * dilation[0]
            ix = x_pos * stride[1] - padding[1] + kx * dilation[1]
            if 0 <= iy < height and 0 <= ix < width:
                out[:, ky * kw + kx] = x[n, :, iy, ix]
    return out


def static_matrix(structure, operands, taps, alpha=0.0):
    """The K×K matrix M of a static similarity."""
    if structure == "identity":
        return np.eye(taps)
    if structure == "diagonal":
        return np.diag(operands[0])
    if structure == "full":
        return operands[0]
    if structure == "cholesky":
        lower = np.tril(operands[0])
        return lower @ lower.T
    if structure == "shape_masked":
        d_r, r = operands
        mask = np.array([1.0 if d > alpha else 0.0 for d in d_r])
        r = np.diag(r) if r.ndim == 1 else r
        return np.diag(mask) @ r
    raise ValueError(structure)


def dynamic_matrix(structure, operands, taps, n, y, x_pos, alpha=0.0):
    """M_p of sample n at output position (y, x_pos) from the [N, K or K·K,
    Ho, Wo] operand (channel t·K + s holds M_p[t, s])."""
    r = operands[-1]
    m = np.zeros((taps, taps))
    if r.shape[1] == taps:
        for t in range(taps):
            m[t, t] = r[n, t, y, x_pos]
    else:
        for t in range(taps):
            for s in range(taps):
                m[t, s] = r[n, t * taps + s, y, x_pos]
    if structure == "shape_masked":
        for t in range(taps):
            if not operands[0][t] > alpha:
                m[t, :] = 0.0
    return m


def sim_conv2d(x, w, structure, operands, bias=None, dynamic=False,
               stride=(1, 1), padding=(0, 0), dilation=(1, 1), alpha=0.0,
               groups=1):
    """Y[n,o,p] = Σ_c Σ_t Σ_s W[o,c',t]·M[t,s]·X_p[c,s] (+ bias[o]), c over
    the channels g·C/G + c' of the group g = ⌊o·G/O⌋ of o (G = groups)."""
    batch, channels = x.shape[:2]
    out_channels, group_channels, kh, kw = w.shape
    assert group_channels * groups == channels
    taps = kh * kw
    ho, wo = output_size(x.shape[2:], (kh, kw), stride, padding, dilation)
    y = np.zeros((batch, out_channels, ho, wo))
    if not dynamic:
        m_static = static_matrix(structure, operands, taps, alpha)
    for n in range(batch):
        for i in range(ho):
            for j in range(wo):
                xp = patch(x, n, i, j, (kh, kw), stride, padding, dilation)
                m = (dynamic_matrix(structure, operands, taps, n, i, j, alpha)
                     if dynamic else m_static)
                for o in range(out_channels):
                    group = o * groups // out_channels
                    w_rows = w[o].reshape(group_channels, taps)
                    total = 0.0
                    for c_in_group in range(group_channels):
                        c = group * group_channels + c_in_group
                        for t in range(taps):
                            for s in range(taps):
                                total += (w_rows[c_in_group, t] * m[t, s]
                                          * xp[c, s])
                    y[n, o, i, j] = total + (0.0 if bias is None else bias[o])
    return y


def sphere_conv2d(x, w, variant, k_param=None, input_only=False, epsilon=1e-4,
                  sigmoid_k=0.3, stride=(1, 1), padding=(0, 0),
                  dilation=(1, 1)):
    """SphereConv g(θ), with the exponential form of the sigmoid variants."""
    batch = x.shape[0]
    out_channels, _, kh, kw = w.shape
    ho, wo = output_size(x.shape[2:], (kh, kw), stride, padding, dilation)
    y = np.zeros((batch, out_channels, ho, wo))
    for n in range(batch):
        for i in range(ho):
            for j in range(wo):
                xp = patch(x, n, i, j, (kh, kw), stride, padding, dilation)
                x_norm = math.sqrt((xp ** 2).sum() + epsilon)
                for o in range(out_channels):
                    wf = w[o].reshape(xp.shape)
                    dot = (wf * xp).sum()
                    if input_only:
                        y[n, o, i, j] = dot / x_norm
                        continue
                    cos = dot / (math.sqrt((wf ** 2).sum() + epsilon) * x_norm)
                    if variant == "cosine":
                        value = cos
                    elif variant == "linear":
                        c = min(max(cos, -1 + 1e-6), 1 - 1e-6)
                        value = 1 - 2 * math.acos(c) / math.pi
                    else:
                        k = (abs(k_param[o]) + 0.05 if variant == "learned_sigmoid"
                             else sigmoid_k)
                        theta = math.acos(min(max(cos, -1.0), 1.0))
                        kappa = ((1 + math.exp(-math.pi / (2 * k)))
                                 / (1 - math.exp(-math.pi / (2 * k))))
                        e = math.exp(theta / k - math.pi / (2 * k))
                        value = kappa * (1 - e) / (1 + e)
                    y[n, o, i, j] = value
    return y


def patch_norm(x, kernel, epsilon, stride=(1, 1), padding=(0, 0),
               dilation=(1, 1)):
    batch = x.shape[0]
    ho, wo = output_size(x.shape[2:], kernel, stride, padding, dilation)
    y = np.zeros((batch, 1, ho, wo))
    for n in range(batch):
        for i in range(ho):
            for j in range(wo):
                xp = patch(x, n, i, j, kernel, stride, padding, dilation)
                y[n, 0, i, j] = math.sqrt((xp ** 2).sum() + epsilon)
    return y


def predicted_similarity(p, gamma, structure):
    y = np.array(p, dtype=np.float64)
    channels = p.shape[1]
    taps = channels if structure == "diagonal" else math.isqrt(channels)
    for ch in range(channels):
        on_diagonal = structure == "diagonal" or ch // taps == ch % taps
        y[:, ch] = gamma * p[:, ch] + (1.0 if on_diagonal else 0.0)
    return y


def sim_linear(x, w, structure, operands, group_size, bias=None, alpha=0.0):
    """y[n,o] = Σ_g Σ_t Σ_s W[o, g·B+t]·M[t,s]·x[n, g·B+s] (+ b[o])."""
    m = static_matrix(structure, operands, group_size, alpha)
    batch, features = x.shape
    groups = features // group_size
    y = np.zeros((batch, w.shape[0]))
    for n in range(batch):
        for o in range(w.shape[0]):
            total = 0.0
            for g in range(groups):
                for t in range(group_size):
                    for s in range(group_size):
                        total += (w[o, g * group_size + t] * m[t, s]
                                  * x[n, g * group_size + s])
            y[n, o] = total + (0.0 if bias is None else bias[o])
    return y
