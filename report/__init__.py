"""Reports read from the warehouse's marts: the headline results and the client's synthesis sheet."""
