/*
 * ProcessPrng shim for the Wine TEST ENVIRONMENT ONLY. Never shipped, never
 * installed on a real Windows machine (Windows 10+ has the real export).
 *
 * Rust's standard library (1.78+) gets its randomness from ProcessPrng in
 * bcryptprimitives.dll. Wine 8.0 (Debian 12's wine64) lacks that export, so
 * every Rust program aborts at start-up under it. This DLL provides
 * ProcessPrng over advapi32's SystemFunction036 (RtlGenRandom), which Wine
 * implements. .ci/windows builds it with mingw and puts it next to p2pd.exe;
 * tests/it/windows.rs runs the .exe under Wine with it.
 *
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll \
 *       tests/wine/processprng_shim.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
