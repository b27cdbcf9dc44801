import DrillCore
