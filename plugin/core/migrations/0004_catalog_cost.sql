-- Each variant's unit cost (the platform's inventoryItem.unitCost, shop currency), so the offer
-- engine can keep a discount above the shop's margin floor. NULL when the merchant never entered
-- a cost. The products/* webhooks do not carry it: only a sync over the Admin API writes it.
ALTER TABLE catalog_variants ADD COLUMN unit_cost TEXT;  -- decimal string as sent
ALTER TABLE catalog_variants ADD COLUMN unit_cost_minor BIGINT;  -- the same in minor units
