import java.net.*;
public class Main {
    public static void main(String[] a) {
        StringBuilder b = new StringBuilder("{");
        for (int i = 2; i < a.length; i++) {
            int c = a[i].lastIndexOf(':');
            String r = "connected";
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(a[i].substring(0, c), Integer.parseInt(a[i].substring(c + 1))), 1500);
            } catch (SocketTimeoutException e) {
                r = "timeout";
            } catch (Exception e) {
                r = e.getClass().getSimpleName();
            }
            b.append(i > 2 ? ", " : "").append('"').append(a[i]).append("\": \"").append(r).append('"');
        }
        System.out.println(b.append('}'));
    }
}
