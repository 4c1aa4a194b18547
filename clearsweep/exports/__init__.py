"""County exports: files a county receives, read from the warehouse outputs; exports never decide."""
