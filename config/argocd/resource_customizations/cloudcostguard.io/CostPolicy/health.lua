-- Argo CD health of a CloudCostGuard CostPolicy (resource.customizations.health.cloudcostguard.io_CostPolicy).
-- Degraded: the spec is invalid (Ready=False), or a Deny policy has namespaces over their monthly
-- budget. Healthy otherwise (a Warn or DryRun policy's overrun is in the message). Progressing until
-- the operator has reported on the current generation.
-- Each Argo CD health script stands alone (argocd-cm has no modules): find() is in both scripts.
local hs = {}

local function find(conditions, kind)
  if conditions == nil then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if condition.type == kind then
      return condition
    end
  end
  return nil
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for CloudCostGuard to report on the policy"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= nil and obj.status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for CloudCostGuard to report on generation " .. tostring(generation)
  return hs
end

local ready = find(obj.status.conditions, "Ready")
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for CloudCostGuard to report on the policy"
  return hs
end
if ready.status ~= "True" then
  hs.status = "Degraded"
  hs.message = ready.reason .. ": " .. ready.message
  return hs
end

local budget = find(obj.status.conditions, "WithinBudget")
local enforcement = "Deny"
if obj.spec ~= nil and obj.spec.enforcement ~= nil then
  enforcement = obj.spec.enforcement
end
if budget ~= nil and budget.status == "False" then
  if enforcement == "Deny" then
    hs.status = "Degraded"
  else
    hs.status = "Healthy"
  end
  hs.message = enforcement .. ": " .. budget.message
  return hs
end

hs.status = "Healthy"
hs.message = ready.message
return hs
