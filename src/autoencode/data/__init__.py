"""Datasets: the strict IDX reader, where Fashion-MNIST is found, and the dataset registry."""
