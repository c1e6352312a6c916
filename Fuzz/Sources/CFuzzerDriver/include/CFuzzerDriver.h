// Nothing to import: the driver only provides the executable's entry point (see driver.c).
