"""Scale-out benchmark (issue #15): coordination cost per turn and a capacity model."""
