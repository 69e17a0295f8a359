"""Entry point: ``python -m robust_keras.reproduce [--quick] [--only=NAME,...]``."""

import sys

from robust_keras.reproduce import main

sys.exit(main())
