"""Steps several experiments share (DESIGN: experiments never import each other), e.g. make a
D_det with its source model, or train a model on D_det with the four curves."""
