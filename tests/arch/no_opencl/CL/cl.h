/* Stands first on the include path of the host-only compile tests (tests/arch/CMakeLists.txt): a public
 * header that pulls in the OpenCL headers stops the build here. */
#error "an OpenCL header was included: clattn.h must compile without the OpenCL headers"
