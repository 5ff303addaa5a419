"""skgd: scikit-learn estimators trained by gradient descent."""

from skgd._linear import GDRegressor
from skgd._linear_classifier import GDClassifier
from skgd._mlp import GDMLPClassifier, GDMLPRegressor
from skgd._plot import LossCurveDisplay

__all__ = [
    "GDClassifier",
    "GDMLPClassifier",
    "GDMLPRegressor",
    "GDRegressor",
    "LossCurveDisplay",
    "__version__",
]
__version__ = "0.1.0"
