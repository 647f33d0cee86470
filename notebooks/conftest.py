"""nbval runs these notebooks in quick mode: tiny images and a few steps, with the real weights."""

import os

os.environ["NST_QUICK"] = "1"  # read by each notebook's second cell; the kernels inherit it
