"""Where paintings come from and how they reach a batch.

Holds the split interface (`core`), image reading (`image_io`: any format,
EXIF rotation, 16-bit, CMYK), the training and evaluation sources
(`sources`: folders, the embedded samples, TFDS), batching (`batching`), the
TFDS source (`tfds_source`), the Oxford Paintings and paintings_more
builders and their downloader (`download`).

May import: the shared modules (`errors`, `names`, `files`, `runtime`,
`configs`) only. TensorFlow and TFDS are imported where a TFDS source is
used, never by importing this package.
"""
