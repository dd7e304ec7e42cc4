// store tests
