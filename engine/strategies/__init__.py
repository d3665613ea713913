"""Bug-forging strategies; each yields ``engine.models.Candidate`` records."""
