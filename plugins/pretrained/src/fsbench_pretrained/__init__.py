"""Pretrained backbones that ship inside registry wheels, loaded offline at run time."""
