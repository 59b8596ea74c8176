"""Work over a batch's rows in blocks, one block after another (TRPO's forward passes and Fisher
products on the 50,000-row batch).

On the whole batch, every elementwise step between two matmuls is a pass over tens of MB of memory,
as slow as the matmul itself on one core; on a block of ~1000 rows the intermediates stay in the
CPU cache. Rows are padded with zeros to whole blocks; `valid` marks the real ones.
"""
import tensorflow as tf


class RowBlocks:
  """The layout of `rows` rows in blocks of `block_rows` (None: one block of all rows)."""

  def __init__(self, rows, block_rows):
    self.rows = rows
    self.block_rows = rows if block_rows is None else block_rows
    self.count = (rows + self.block_rows - 1) // self.block_rows
    self.pad = self.count * self.block_rows - rows
    self.valid = self.split(tf.ones([rows], tf.bool))

  def split(self, x):
    """[rows, ...] -> [count, block_rows, ...], zero rows appended."""
    x = tf.pad(x, [[0, self.pad]] + [[0, 0]] * (x.shape.rank - 1))
    return tf.reshape(x, tf.concat([[self.count, self.block_rows], tf.shape(x)[1:]], 0))

  def loop(self, body, initial):
    """initial -> body(i, *state) for each block i in turn (state: a tuple of tensors)."""
    # parallel_iterations=1: one block at a time, so that each block's data stays in cache.
    return tf.while_loop(lambda i, *_: i < self.count,
                         lambda i, *state: (i + 1,) + tuple(body(i, *state)),
                         (tf.constant(0),) + tuple(initial), parallel_iterations=1)[1:]

  def sums(self, row_fn, tensors, n_sums):
    """Σ over the real rows of each of row_fn's `n_sums` per-row values, where row_fn takes the
    blocks of `tensors` ([rows, ...] each) and returns a list of [block_rows] tensors."""
    blocked = [self.split(t) for t in tensors]

    def body(i, *totals):
      values = row_fn(*[b[i] for b in blocked])
      # tf.where, not a product: a padding row's value may be inf or nan.
      return [t + tf.reduce_sum(tf.where(self.valid[i], v, 0.0)) for t, v in zip(totals, values)]
    return self.loop(body, [tf.constant(0.0)] * n_sums)
