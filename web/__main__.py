"""``python -m web --data DIR --port 8080``: the setup page on its own."""
import sys

from web.server import main

sys.exit(main())
