"""Apps the extractor must refuse, each error named with file:line and a fix."""
