"""``python -m firmware`` is the ``smallpbx`` command."""
import sys

from firmware.cli import main

sys.exit(main())
