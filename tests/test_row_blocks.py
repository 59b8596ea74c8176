"""Row blocks (bremen_tf/row_blocks.py): sums over rows block by block equal the plain sums."""
import numpy as np
import tensorflow as tf

from bremen_tf.row_blocks import RowBlocks


def test_sums_equal_plain_sums_and_padding_rows_never_count_even_as_nan():
  rng = np.random.default_rng(0)
  x = tf.constant(rng.normal(size=(37, 3)).astype(np.float32))
  y = tf.constant(rng.normal(size=(37,)).astype(np.float32))
  blocks = RowBlocks(37, 8)
  assert int(blocks.count) == 5 and int(blocks.pad) == 3
  # log(0) on the zero padding rows is -inf and 0·inf is nan: neither may reach the sums.
  row_fn = lambda a, b: [tf.reduce_sum(a, -1) * b + 0.0 * tf.math.log(tf.abs(b)),
                         tf.exp(-tf.math.log(tf.abs(b)))]
  got = [s.numpy() for s in blocks.sums(row_fn, [x, y], 2)]
  expected = [np.sum(x.numpy().sum(-1) * y.numpy()), np.sum(1 / np.abs(y.numpy()))]
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  one = RowBlocks(37, None)
  assert int(one.count) == 1 and int(one.pad) == 0
  np.testing.assert_allclose(one.sums(row_fn, [x, y], 2)[0].numpy(), expected[0], rtol=1e-5)
