/** The development operator key used by the Workers-runtime tests (valid only in development mode). */
export const TEST_DEV_KEY = "sat_op_dev_test_000000000000000000000000000000000";
