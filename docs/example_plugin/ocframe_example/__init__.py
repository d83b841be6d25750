"""An example ocframe plugin distribution, written as an outside integrator would."""
