"""Import TensorFlow without its C++ start-up log.

TensorFlow 2.21 writes lines such as ``I0000 ... oneDNN custom operations are on`` and, on machines
without a GPU, ``E0000 ... failed call to cuInit: ... UNKNOWN ERROR (303)`` straight to file
descriptor 2 while it loads and when it first looks for devices. ``TF_CPP_MIN_LOG_LEVEL`` no longer
silences them, and readers take them for errors. So ``nst`` imports TensorFlow (and lists its
devices) with descriptor 2 caught in a temporary file, then writes back everything that is not such
a log line: Python warnings still show, and if the import fails its real message is shown in full.
``NST_VERBOSE=1`` turns this off.

``import nst`` does not import TensorFlow itself (the command line refuses bad arguments before it, in a
fraction of a second): it installs ``QuietImport``, which makes the first ``import tensorflow`` of the
process, wherever it comes from (``nst.stylize``, ``from nst.losses import ...``, ``import keras``), this one.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile

# The C++ log lines (absl format), as TensorFlow 2.21 prints them; notebooks/execute.py strips the same.
TF_LOG = re.compile(r"^([IWE]\d{4} \d\d:\d\d:\d+\.\d+ .*|WARNING: All log messages before absl.*|"
                    r"To enable the following instructions: .*)\n?", re.MULTILINE)


def import_tensorflow() -> None:
    """Import TensorFlow and find its devices, with the C++ start-up log lines left out."""
    if "tensorflow" in sys.modules or os.environ.get("NST_VERBOSE") == "1":
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # CUDA's probe ("failed call to cuInit") logs here, not at import
        except BaseException:
            os.dup2(saved, 2)
            caught.seek(0)
            sys.stderr.write(caught.read().decode(errors="replace"))  # everything: why the import failed
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        caught.seek(0)
        sys.stderr.write(TF_LOG.sub("", caught.read().decode(errors="replace")))


class QuietImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """On ``sys.meta_path``: the first ``import tensorflow`` runs ``import_tensorflow``, then hands over its module
    (with its own ``__spec__``) and leaves the path; every later import finds TensorFlow in ``sys.modules``."""

    def find_spec(self, name: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        import_tensorflow()
        self.module = sys.modules["tensorflow"]
        self.spec = self.module.__spec__
        return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec):
        return self.module

    def exec_module(self, module) -> None:
        module.__spec__ = self.spec  # the import system set it to ours; TensorFlow's own describes its files


def install() -> None:
    """Import TensorFlow quietly whenever it is first imported (``QuietImport``), unless ``NST_VERBOSE=1``."""
    if "tensorflow" in sys.modules or os.environ.get("NST_VERBOSE") == "1":
        return
    if not any(isinstance(finder, QuietImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, QuietImport())
