-- No operation: the checks alone (a local failure to answer, credentials to prove, a token to take).
-- operation
return ok({'O'})
