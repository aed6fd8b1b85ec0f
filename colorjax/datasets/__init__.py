"""Data sources below `colorjax.sources`: the split interface (`core`), TFDS
(`tfds_source`), the Oxford Paintings TFDS builder (`oxford_paintings`,
registered when imported) and the paintings_more builder."""
