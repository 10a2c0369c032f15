-- A claim's completion that travels with the item's other writes in one round trip, as one
-- implicit transaction (package queue, Item.QueueComplete), must fail when the queue row no
-- longer carries the claim's token, so that none of those writes commit.
-- agentd_claim_held(n, what) returns n, the rows the completion deleted, when there is one;
-- with none it raises SQLSTATE AGL01, which agentd reads as "lease lost".
CREATE OR REPLACE FUNCTION agentd_claim_held(n bigint, what text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    IF n > 0 THEN
        RETURN n;
    END IF;
    RAISE EXCEPTION 'agentd: % no longer carries this claim (lease lost: the item was rescued or ended by another)', what
        USING ERRCODE = 'AGL01';
END
$$;
