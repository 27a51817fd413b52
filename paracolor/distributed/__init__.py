"""Scale-out backends (Ray Data); optional extras imported lazily."""
