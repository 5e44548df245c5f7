"""What several test modules share (clocks, settings, cache readers, apps): test modules import
from here, never from each other."""
