"""nsl.paper_cifar_net: the paper's CIFAR network, defined once."""

import torch
from torch import nn

import nsl
from tests.common import TestCase


class PaperCifarNetTest(TestCase):
    def test_layers_as_the_paper_gives_them(self):
        model = nsl.paper_cifar_net()
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        # Root conv 32; 3 × conv 32, 3 × conv 64, 3 × conv 128; 4×4 head.
        self.assertEqual([c.out_channels for c in convs],
                         [32] * 4 + [64] * 3 + [128] * 3 + [10])
        self.assertEqual([c.kernel_size for c in convs],
                         [(3, 3)] * 10 + [(4, 4)])
        self.assertEqual(
            sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()), 10)
        self.assertEqual(
            sum(isinstance(m, nn.MaxPool2d) for m in model.modules()), 3)

    def test_logits_of_cifar_and_padded_fashion_mnist_images(self):
        for channels, classes in ((3, 10), (1, 10), (3, 100)):
            with self.subTest(channels=channels, classes=classes):
                model = nsl.paper_cifar_net(channels, classes).eval()
                y = model(torch.randn(2, channels, 32, 32))
                self.assertEqual(tuple(y.shape), (2, classes))

    def test_scripts_and_converts(self):
        torch.manual_seed(0)
        model = nsl.to_static_nsn(nsl.paper_cifar_net(), "diagonal").eval()
        x = torch.randn(2, 3, 32, 32)
        scripted = torch.jit.script(model)
        self.assertTrue(torch.allclose(scripted(x), model(x)))
        self.assertTrue(
            any(isinstance(m, nsl.SimConv2d) for m in model.modules()))


class SmallCnnTest(TestCase):
    def test_layers_and_logits(self):
        model = nsl.small_cnn().eval()
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        self.assertEqual([c.out_channels for c in convs], [16, 32, 64])
        self.assertEqual(
            sum(isinstance(m, nn.MaxPool2d) for m in model.modules()), 2)
        for size in (28, 32):
            y = model(torch.randn(3, 1, size, size))
            self.assertEqual(tuple(y.shape), (3, 10))

    def test_scripts_as_a_static_nsn(self):
        torch.manual_seed(0)
        model = nsl.to_static_nsn(nsl.small_cnn(), "diagonal").eval()
        x = torch.randn(2, 1, 28, 28)
        self.assertTrue(torch.allclose(torch.jit.script(model)(x), model(x)))
