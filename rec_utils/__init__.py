"""Shared helpers of the LLM-token recommender notebook collection.

Modules:
    data         MovieLens-100K and your own CSV files, checked against the contract
    splits       stratified, temporal and cold-start splits
    metrics      ranking and rating metrics, and the evaluation loop
    base         the recommender interface every model follows
    tokens       LLM tokenizer, bag-of-token features, contextual embeddings
    autoencoder  the token autoencoder
    models       popularity, neighbourhood, autoencoder and content models
    fusion       score and rank fusion of several models
    experiment   seeding, paths, timing and recorded metrics
"""

__version__ = "0.1.0"
