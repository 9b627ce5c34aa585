"""Looking inside codings: 2-D maps (t-SNE, UMAP, PCA) and the codings' report card."""
