"""Importing TensorFlow for commands that never build a model.

`import tensorflow` loads Keras eagerly (TensorFlow registers Keras's optimizers at
import), and Keras then loads matplotlib, scikit-learn and SciPy whenever they are
installed, for its plotting helpers and scikit-learn wrappers. On a 2-core machine that
is about 1.2 s of a 3.3 s import: a third of the fixed cost of a command such as
`create_pretraining_data.py`, which only tokenizes and writes records.
"""

import sys

# Packages Keras and TensorFlow import only if they are installed (each import sits in
# a try/except ImportError), and never for tokenizing or writing records.
OPTIONAL_PACKAGES = ("matplotlib", "sklearn", "scipy")


def import_tensorflow_text_only() -> None:
    """Imports `tensorflow` and `tensorflow_text` with `OPTIONAL_PACKAGES` hidden.

    While they import, each optional package not yet loaded looks uninstalled, so the
    modules loaded now go without it: in this process Keras's plotting helpers and
    scikit-learn wrappers then say their package is missing. Importing the packages
    themselves works as usual afterwards. A process that has already imported
    TensorFlow is left as it is: this is for a command's own process, before its first
    TensorFlow import.
    """
    if "tensorflow" in sys.modules:
        return
    hidden = [name for name in OPTIONAL_PACKAGES if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # Makes `import name` raise ImportError.
    try:
        import tensorflow  # noqa: F401
        import tensorflow_text  # noqa: F401
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
