// The dispatcher's one lock: System.Threading.Lock where the runtime has it, a plain object (Monitor) before .NET 9.
#if NET9_0_OR_GREATER
global using SyncLock = System.Threading.Lock;
#else
global using SyncLock = System.Object;
#endif
