"""Build the object sample: fetch positions from sources, validate, consolidate, number, shard."""
