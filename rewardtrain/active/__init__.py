"""Active learning in the app: the pool, acquisition rounds (score the pool with the active model,
pick with a strategy of rewardtrain.ml.acquisition, open the picks with a priority) and their triggers."""
