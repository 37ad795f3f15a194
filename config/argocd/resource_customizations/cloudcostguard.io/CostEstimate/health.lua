-- Argo CD health of a CloudCostGuard CostEstimate (resource.customizations.health.cloudcostguard.io_CostEstimate).
-- Healthy: Ready=True and the budget holds (or only a Warn/DryRun policy is exceeded: the change was
-- admitted on purpose). Degraded: Stalled=True (a permanent failure: invalid plan, too large,
-- forbidden URL) or a Deny policy's verdict (a broken limit, or with unpriced: Deny resources that
-- cannot be priced: WithinBudget reason UnpricedResources). Progressing: not yet estimated, a newer generation not
-- yet observed, or a transient failure being retried. Argo CD's Lua has no string library: plain
-- comparisons and concatenation only.
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
  hs.message = "Waiting for CloudCostGuard to estimate the plan"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= nil and obj.status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for CloudCostGuard to estimate generation " .. tostring(generation)
  return hs
end

local conditions = obj.status.conditions
local stalled = find(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.reason .. ": " .. stalled.message
  return hs
end

local ready = find(conditions, "Ready")
if ready == nil or ready.status ~= "True" then
  hs.status = "Progressing"
  if ready ~= nil then
    hs.message = ready.reason .. ": " .. ready.message
  else
    hs.message = "Waiting for CloudCostGuard to estimate the plan"
  end
  return hs
end

local budget = find(conditions, "WithinBudget")
local policy = obj.status.policy
local what = "over budget"
if budget ~= nil and budget.reason == "UnpricedResources" then
  what = "unpriced resources"
end
if policy ~= nil and policy.verdict == "Deny" then
  hs.status = "Degraded"
  if what == "over budget" then
    hs.message = "Over budget (" .. policy.name .. ", Deny): " .. policy.message
  else
    hs.message = "Unpriced resources (" .. policy.name .. ", Deny): " .. policy.message
  end
  return hs
end

hs.status = "Healthy"
hs.message = ready.message
if budget ~= nil and budget.status == "False" and policy ~= nil then
  hs.message = ready.message .. "; " .. what .. " (" .. policy.name .. ", " .. policy.verdict .. "): " .. policy.message
end
return hs
