"""Steps several experiments share, between the experiments above and the library below
(docs/design.md: experiments never import each other), e.g. build a D_det with its source model,
train a model with a recipe, or build the --robust_eval attack."""
