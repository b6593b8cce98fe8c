import tensorflow as tf

from common.errors import op_error_line


def test_an_assertion_inside_a_function_becomes_its_own_text():
    @tf.function
    def check(x):
        tf.debugging.Assert(x > 0, ["/data/a.JPEG", "is not an intact JPEG"])
        return x

    try:
        check(tf.constant(-1))
    except tf.errors.InvalidArgumentError as err:
        assert err.message.startswith("Graph execution error")
        assert op_error_line(err) == "/data/a.JPEG is not an intact JPEG"
    else:
        raise AssertionError("the assertion did not fail")


def test_other_errors_keep_their_first_informative_line():
    try:
        tf.io.decode_image(tf.constant(b"junk"))
    except tf.errors.InvalidArgumentError as err:
        assert "Unknown image file format" in op_error_line(err)
