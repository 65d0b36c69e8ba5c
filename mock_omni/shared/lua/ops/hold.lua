-- The checks alone, the call's journal entry left to the operation's end (gate.py's hold): for operations
-- of several scripts (messages). A refusal is journaled here, as in every call.
-- operation
return {'O'}
