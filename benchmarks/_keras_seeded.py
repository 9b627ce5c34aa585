"""The seed's Keras code (the peer, unmodified) with another seed in place of its 42.

Usage: python _keras_seeded.py SEED MODEL EPOCHS   (in the peer's venv, TF_USE_LEGACY_KERAS=1)
"""

import runpy
import sys
from pathlib import Path

import tensorflow as tf

PEER = Path(__file__).resolve().parent.parent.parent / "shared" / "peers" / "seed_keras.py"
seed = int(sys.argv.pop(1))
set_random_seed = tf.keras.utils.set_random_seed
tf.keras.utils.set_random_seed = lambda _seed_42: set_random_seed(seed)
sys.argv[0] = str(PEER)
runpy.run_path(str(PEER), run_name="__main__")
