from mteval.cli import main
import sys
sys.exit(main())
