import sys

from nst.weights import main

sys.exit(main())
