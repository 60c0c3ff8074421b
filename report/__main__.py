import sys

from .synthese import main

sys.exit(main())
