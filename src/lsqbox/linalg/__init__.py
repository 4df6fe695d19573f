"""Trust-region subproblems and the linear algebra under them."""
