"""Shared helpers of the LLM-token recommender notebook collection.

Modules:
    data         MovieLens-100K and your own CSV files, checked against the contract
    splits       stratified, temporal and cold-start splits
    metrics      ranking and rating metrics, and the evaluation loop
    base         the recommender interface every model follows
    tokens       LLM tokenizer, bag-of-token features, contextual embeddings
    autoencoder  the token autoencoder
    models       popularity, user and item kNN, EASE, Mult-DAE, code cosine
    content      content-based user profiles over item features
    fusion       score and rank fusion of several models
    baselines    RP3beta, PureSVD, iALS, Mult-VAE, GenEASE, the token-code pipeline
    benchmark    equal-budget tuning, seed runs, tables beside the published rows
    bench        speed report of the benchmark models (``make bench``)
    cold_start   item and user cold start from tokens, and the warm-up
    run_notebooks  headless execution of the numbered notebooks
    experiment   seeding, paths, timing and recorded metrics
"""

__version__ = "0.1.0"
