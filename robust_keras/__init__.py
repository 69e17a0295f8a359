"""robust_keras: a TensorFlow/Keras toolkit for adversarial-robustness research.

Entry point: ``python -m robust_keras.main --flagfile=flags/<experiment>.flags``.
Library packages: ``data``, ``models``, ``attacks``, ``training``, ``analysis``; outward
contracts live in ``export`` (SavedModel) and ``tracking`` (MLflow + run directory).
"""

__version__ = "0.1.0"
