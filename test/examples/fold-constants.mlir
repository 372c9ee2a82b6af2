// A frozen network: weights and similarity parameters are constants, so
// --nsl-fold-static-similarity folds W' = W·M to constants (computed by the
// dialect's folder in C++). The reference interpreter checks that the folded
// constants compute what the unfolded network computes (float32 constants
// against double arithmetic: relative error ≤ 1e-6).
// RUN: nsl-opt %s --nsl-export-graph=output=%t.before.json -o /dev/null
// RUN: nsl-opt %s --nsl-fold-static-similarity --nsl-export-graph=output=%t.after.json | FileCheck %s
// RUN: nsl-reference compare %t.before.json %t.after.json --seed 1 --tolerance 1e-6

// CHECK-NOT: nsl.fold_similarity
// CHECK-COUNT-5: nsl.sim_conv2d identity
// CHECK: nsl.linear
// (Generated once with random values; the literal values are arbitrary.)
func.func @forward(%x: tensor<1x2x5x5xf32> {nsl.name = "x", nsl.role = "input"}, %v: tensor<1x8xf32> {nsl.name = "v", nsl.role = "input"})
    -> (tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>, tensor<1x2xf32>) {
  %w = arith.constant dense<[[[[-0.0952, 0.1195, 0.8484], [-0.0687, 0.0157, 0.1748], [-0.6307, 0.0238, 0.2598]], [[0.586, -0.8118, -0.3932], [-0.8187, 0.6193, 0.3869], [-0.9162, 0.9644, 0.9295]]], [[[0.3078, 0.2311, -0.685], [-0.97, 0.0568, -0.8809], [-0.6196, -0.5161, -0.9398]], [[-0.0721, -0.1189, 0.6849], [0.0382, 0.2806, -0.0005], [0.3249, -0.0853, -0.4437]]], [[[0.9953, 0.9914, 0.6804], [0.4156, -0.3694, -0.5407], [-0.4219, -0.8596, 0.5326]], [[-0.1992, 0.6932, -0.227], [0.9161, 0.6946, -0.9989], [-0.5806, 0.8205, -0.06]]]]> : tensor<3x2x3x3xf32>
  %m = arith.constant dense<[0.9607, -0.2052, -0.8539, 0.2589, 0.557, -0.4604, -0.8257, -0.3348, 0.9282]> : tensor<9xf32>
  %mm = arith.constant dense<[[0.5161, -0.764, -0.5072, -0.7979, -0.8802, 0.594, -0.6446, 0.1186, -0.1052], [-0.6186, 0.4638, -0.7381, 0.2874, -0.767, -0.1585, -0.5743, -0.4604, 0.9419], [0.6068, -0.3917, 0.7697, -0.5786, -0.2115, 0.7088, 0.2837, -0.7993, 0.9786], [-0.5735, -0.4834, 0.5454, -0.3421, -0.4074, -0.8532, -0.8198, 0.1655, -0.514], [0.2026, -0.2566, -0.0936, 0.9183, -0.0326, 0.1491, 0.7331, -0.6343, -0.6917], [0.8168, 0.6356, -0.501, -0.6204, 0.4788, 0.8808, -0.6068, 0.9003, 0.7644], [0.2071, -0.1571, -0.7923, -0.9226, 0.9254, -0.5232, 0.4092, -0.486, 0.6474], [0.1929, -0.4131, -0.6491, 0.4407, -0.8624, -0.5432, 0.1187, 0.7048, 0.2286], [-0.4396, 0.8347, -0.592, -0.9669, -0.4616, -0.1086, -0.8791, -0.6475, -0.2624]]> : tensor<9x9xf32>
  %l = arith.constant dense<[[0.1443, -0.7368, -0.2757, 0.7819, 0.961, 0.3139, 0.3824, 0.1689, -0.7193], [-0.9298, -0.9642, 0.8204, 0.4019, 0.9255, -0.9575, 0.2724, -0.0355, 0.461], [-0.3622, 0.9987, -0.8495, 0.0922, 0.474, 0.8004, 0.4742, 0.4074, 0.5865], [0.83, -0.2963, 0.3703, 0.8017, 0.7422, -0.1657, 0.5811, 0.7269, 0.1456], [0.2499, -0.2353, 0.1654, 0.2177, -0.8396, 0.2788, 0.9866, 0.7596, 0.4564], [-0.2231, 0.4701, 0.1619, -0.119, 0.6767, -0.8324, 0.5004, -0.9404, 0.2026], [-0.0381, -0.5396, 0.3967, -0.0055, 0.229, 0.8409, -0.4883, -0.9774, -0.3979], [0.3563, -0.5949, -0.6608, 0.8114, 0.32, -0.1161, 0.7835, -0.3461, 0.3318], [-0.603, -0.1382, 0.612, 0.8284, 0.7605, -0.2312, 0.1662, -0.367, -0.7276]]> : tensor<9x9xf32>
  %d = arith.constant dense<[-0.0071, 0.6742, 0.6974, 0.4224, 0.9, -0.4464, -0.6617, -0.0987, -0.4497]> : tensor<9xf32>
  %r = arith.constant dense<[[-0.5718, -0.172, 0.2515, -0.0122, -0.3693, 0.6782, 0.9641, -0.095, -0.8506], [-0.937, 0.7457, -0.917, 0.4173, 0.1412, -0.3819, 0.583, -0.9618, -0.7282], [-0.0903, -0.9505, 0.6593, -0.5252, -0.7183, -0.9061, 0.2584, -0.107, 0.2599], [0.3101, 0.6148, 0.9169, 0.369, -0.6013, -0.0497, -0.6426, -0.9785, -0.0556], [0.4283, -0.6418, -0.4553, -0.3085, 0.3946, 0.0408, 0.2289, 0.5124, -0.213], [0.5839, 0.8125, -0.8256, 0.8652, 0.4448, -0.7402, -0.0929, 0.2511, 0.8199], [-0.2464, 0.1376, 0.7586, 0.5935, 0.8885, -0.0726, 0.3026, -0.5902, 0.4439], [0.6367, 0.2832, 0.4353, -0.5734, 0.8, 0.961, 0.9547, 0.0739, 0.5816], [-0.3592, 0.82, 0.7116, -0.303, -0.8345, -0.1182, 0.1006, 0.5365, -0.0251]]> : tensor<9x9xf32>
  %r1 = arith.constant dense<[-0.9432, 0.6183, -0.8719, 0.5997, -0.6542, -0.33, 0.5758, -0.719, -0.7026]> : tensor<9xf32>
  %fw = arith.constant dense<[[0.033, 0.4471, 0.68, 0.3787, 0.8915, -0.0148, 0.8983, -0.828], [-0.5572, 0.0533, -0.4197, 0.4577, 0.2777, 0.0456, 0.6872, 0.1199]]> : tensor<2x8xf32>
  %fm = arith.constant dense<[[-0.3766, -0.2376, 0.6905, 0.8011], [-0.5835, 0.7015, 0.9369, 0.0485], [0.146, -0.5981, 0.0718, 0.0063], [0.2105, -0.9445, 0.9388, 0.032]]> : tensor<4x4xf32>
  %0 = nsl.sim_conv2d diagonal %x, %w similarity(%m : tensor<9xf32>) : tensor<1x2x5x5xf32>, tensor<3x2x3x3xf32> -> tensor<1x3x3x3xf32>
  %1 = nsl.sim_conv2d full %x, %w similarity(%mm : tensor<9x9xf32>) : tensor<1x2x5x5xf32>, tensor<3x2x3x3xf32> -> tensor<1x3x3x3xf32>
  %2 = nsl.sim_conv2d cholesky %x, %w similarity(%l : tensor<9x9xf32>) : tensor<1x2x5x5xf32>, tensor<3x2x3x3xf32> -> tensor<1x3x3x3xf32>
  %3 = nsl.sim_conv2d shape_masked %x, %w similarity(%d, %r : tensor<9xf32>, tensor<9x9xf32>) : tensor<1x2x5x5xf32>, tensor<3x2x3x3xf32> -> tensor<1x3x3x3xf32>
  %4 = nsl.sim_conv2d shape_masked %x, %w similarity(%d, %r1 : tensor<9xf32>, tensor<9xf32>) : tensor<1x2x5x5xf32>, tensor<3x2x3x3xf32> -> tensor<1x3x3x3xf32>
  %5 = nsl.sim_linear full %v, %fw similarity(%fm : tensor<4x4xf32>) {group_size = 4 : i64} : tensor<1x8xf32>, tensor<2x8xf32> -> tensor<1x2xf32>
  return %0, %1, %2, %3, %4, %5 : tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>, tensor<1x2xf32>
}
