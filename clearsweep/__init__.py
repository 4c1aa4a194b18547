"""clearsweep: statewide Prop 64 eligibility sweeps on Spark + Delta Lake."""

__version__ = "0.1.0"
